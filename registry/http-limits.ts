/** The sizes and times the HTTP server allows a client, in one place. */

/** `--header-timeout`'s default: how long a client may take to send a request's headers. */
export const DEFAULT_HEADER_TIMEOUT_MS = 30_000;

/** `--idle-timeout`'s default: how long a connection may wait on its client with nothing moving. */
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

/** The request line plus headers node will parse; past it, 431. A bearer token with many scopes fits. */
export const MAX_HEADER_BYTES = 32 * 1024;

/** The longest request URL answered; a longer one gets 414. A valid registry URL stays under 1 KiB. */
export const MAX_URL_BYTES = 8 * 1024;

/** Bodies fastify itself buffers to parse (forms, JSON); blobs stream and manifests have their own limit. */
export const MAX_PARSED_BODY_BYTES = 64 * 1024;

/** How long a keep-alive connection may sit between two requests. */
export const KEEP_ALIVE_TIMEOUT_MS = 72_000;

/** How often node looks for requests whose headers are late: its default (30 s) would let them overstay that much. */
export const HEADER_TIMEOUT_CHECK_INTERVAL_MS = 1_000;
