// A webhook receiver for Alertmanager that prints every notification it gets,
// so that alerts are visible out of the box: the compose stack's `alert-receiver`
// service and the demo both use it. Replace it with a real integration by
// changing one line in alerts/alertmanager.yml (see the comment there).
//
//   node examples/alert-receiver.mjs       listens on HOST:PORT (default 127.0.0.1:5001)
//
// Alertmanager's webhook payload (version 4): { receiver, status, alerts: [{ status,
// labels, annotations, startsAt, endsAt }], groupLabels, ... }.
import { once } from 'node:events';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';

const MAX_BODY = 1 << 20;

/** One line per alert: `[page] FIRING BackgroundWorkerDown {labels}: summary`, then its runbook. */
export function formatNotification(notification) {
  return notification.alerts.flatMap((alert) => {
    const { alertname, severity, ...rest } = alert.labels;
    const labels = Object.entries(rest)
      .map(([k, v]) => `${k}="${v}"`)
      .join(', ');
    const head = `[${notification.receiver}] ${alert.status.toUpperCase()} ${alertname} (${severity ?? 'no severity'})`;
    return [
      `${head}${labels ? ` {${labels}}` : ''}: ${alert.annotations.summary ?? ''}`,
      ...(alert.annotations.runbook_url ? [`    runbook: ${alert.annotations.runbook_url}`] : []),
    ];
  });
}

/**
 * Starts the receiver. `onNotification(body)` sees each notification, parsed;
 * the default prints it. Resolves to { url, close }.
 */
export async function startAlertReceiver({
  host = '127.0.0.1',
  port = 0,
  onNotification = (n) => console.log(formatNotification(n).join('\n')),
} = {}) {
  const server = createServer((req, res) => {
    if (req.method !== 'POST') return void res.writeHead(405).end();
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return void res.writeHead(400).end();
      }
      // Answer first: Alertmanager retries a notification whose POST fails.
      res.writeHead(200).end();
      if (Array.isArray(body?.alerts)) onNotification(body);
    });
  });
  server.listen(port, host);
  await once(server, 'listening');
  return {
    url: `http://${host}:${server.address().port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const host = process.env.HOST ?? '127.0.0.1';
  const port = Number(process.env.PORT ?? 5001);
  const receiver = await startAlertReceiver({ host, port });
  console.log(`alert-receiver: listening on ${receiver.url}; every notification is printed here`);
  for (const signal of ['SIGINT', 'SIGTERM'])
    process.once(signal, () => receiver.close().then(() => process.exit(0)));
}
