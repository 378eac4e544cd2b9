// BullMQ connection options for a fixture app's REDIS_URL. Not `{ url }`:
// BullMQ before 5.15 ignores that option and connects to 127.0.0.1:6379.
function redisConnection(extra = {}, url = process.env.REDIS_URL) {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.pathname.length > 1 ? { db: Number(u.pathname.slice(1)) } : {}),
    ...extra,
  };
}

module.exports = { redisConnection };
