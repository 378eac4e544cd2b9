// The ACL users a Redis may give an app that refuse jobwatch's own commands
// but not BullMQ's, and what jobwatch's one line must then say: for the
// refusal tests on one Redis and on a Cluster.

/** [case, queue, ACL rules, what the line says]; `appKeys` is the key pattern of the queue's BullMQ keys. */
export function aclRefusals(
  appKeys: (queue: string) => string,
): [string, string, string[], RegExp][] {
  return [
    ['no TIME', 'acl-time', ['~*', '+@all', '-time'], /may not run TIME/],
    [
      'no jobwatch keys',
      'acl-keys',
      [`~${appKeys('acl-keys')}`, '+@all'],
      /may not access jobwatch's keys/,
    ],
  ];
}
