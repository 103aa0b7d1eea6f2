/** No reply arrived within the request's timeout. */
export class BusTimeoutError extends Error {
  override name = 'BusTimeoutError';
  constructor(
    readonly subject: string,
    options?: ErrorOptions,
  ) {
    super(`request on ${subject} timed out`, options);
  }
}

/** Nobody serves the subject right now. */
export class BusNoRespondersError extends Error {
  override name = 'BusNoRespondersError';
  constructor(
    readonly subject: string,
    options?: ErrorOptions,
  ) {
    super(`no responders on ${subject}`, options);
  }
}

/** The bus is closed or draining. */
export class BusClosedError extends Error {
  override name = 'BusClosedError';
  constructor(options?: ErrorOptions) {
    super('bus is closed', options);
  }
}
