import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWK } from 'jose';

/** A JWKS endpoint on 127.0.0.1 that counts requests and can rotate, hang, redirect and stop. */
export class JwksServer {
  keys: JWK[] = [];
  requests = 0;
  hanging = false;
  redirectTo: string | undefined;
  #port = 0;
  #server: Server | undefined;

  get url(): string {
    return `http://127.0.0.1:${this.#port}/jwks.json`;
  }

  /** Listens on a free port, or on the port it had before it was stopped. */
  async start(): Promise<void> {
    const server = createServer((_request, response) => this.#answer(response));
    server.listen(this.#port, '127.0.0.1');
    await once(server, 'listening');
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    server.close();
    server.closeAllConnections();
    await once(server, 'close');
  }

  #answer(response: ServerResponse): void {
    this.requests += 1;
    if (this.hanging) return;
    if (this.redirectTo) {
      response.writeHead(302, { location: this.redirectTo }).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'application/jwk-set+json' });
    response.end(JSON.stringify({ keys: this.keys }));
  }
}

/** A key pair for signing test tokens, with its public half as a JWK and as SPKI PEM. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: 'RS256' | 'ES256';
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
  readonly pem: string;
}

export async function signingKey(kid: string, alg: SigningKey['alg']): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg };
  return { kid, alg, privateKey, jwk, pem: await exportSPKI(publicKey) };
}
