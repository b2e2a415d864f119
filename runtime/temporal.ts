import { Client, Connection } from '@temporalio/client';

/** Opens a client connection to the Temporal frontend at `address` (host:port). */
export async function connectTemporal(address: string, namespace: string): Promise<Client> {
  const connection = await Connection.connect({ address });
  return new Client({ connection, namespace });
}
