// How the demo, the tests and the benchmark start their own throwaway
// redis-server: loopback only, nothing persisted, so it never touches a
// Redis the machine already runs and leaves no files behind.
/**
 * @param {number} port
 * @param {string} [dir] where redis-server may write (it writes nothing without persistence)
 * @returns {string[]}
 */
export function redisServerArgs(port, dir) {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  return dir === undefined ? args : [...args, '--dir', dir];
}
