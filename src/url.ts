// Store URLs as reports and log lines may show them: never with a password.

/** `url` without its user and password (unchanged when it is no URL). */
export function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}
