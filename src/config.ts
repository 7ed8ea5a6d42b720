/** Defaults in one place. The port is the one constant the text lets server and client share. */
export const DEFAULT_PORT = 1025;
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_HTTP_PORT = 8025;
