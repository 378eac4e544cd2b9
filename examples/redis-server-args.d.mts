// Types of redis-server-args.mjs, for the tests that use it.
export function redisServerArgs(port: number, dir?: string): string[];
