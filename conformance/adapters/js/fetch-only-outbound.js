// The Outbound Worker of the `outbound-worker` environment (workerd_config.py): a Worker with a
// fetch handler and no connect handler, set as the adapter Worker's global outbound. A connect()
// made behind it must fail without reaching the network (B53); the fetch handler is there to show
// that connect() is not turned into a fetch: it answers loudly if it is ever called.
export default {
  async fetch(request) {
    console.error(`fetch-only Outbound Worker: unexpected fetch ${request.method} ${request.url}`);
    return new Response("connect-conformance: fetch-only Outbound Worker\n", { status: 599 });
  },
};
