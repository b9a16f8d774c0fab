// Meta's WhatsApp Node.js SDK (npm "whatsapp"), configured by its environment variables
// (WA_BASE_URL, WA_PHONE_NUMBER_ID, CLOUD_API_ACCESS_TOKEN, CLOUD_API_VERSION). It speaks HTTPS to
// port 443 of WA_BASE_URL; KIREM_TLS_PORT moves that port, the Requester's `port` being a plain field.
// Driven by tests/e2e/test_node_clients.py, which reads the JSON printed.
const WhatsApp = require("whatsapp");

async function answer(request) {
  const response = await request;
  return { status: response.statusCode(), body: await response.responseBodyToJSON() };
}

async function main() {
  const { CUSTOMER, INBOUND_WAMID, TEMPLATE_NAME, MEDIA_ID, KIREM_TLS_PORT } = process.env;
  const wa = new WhatsApp();
  if (KIREM_TLS_PORT) wa.requester.port = Number(KIREM_TLS_PORT);
  const to = Number(CUSTOMER);
  const text = await answer(wa.messages.text({ body: "Hello from the Node.js SDK" }, to));
  const reply = await answer(wa.messages.text({ body: "A reply" }, to, INBOUND_WAMID));
  const template = await answer(
    wa.messages.template(
      {
        name: TEMPLATE_NAME,
        language: { code: "en_US", policy: "deterministic" },
        components: [{ type: "body", parameters: [{ type: "text", text: "A-17" }] }],
      },
      to,
    ),
  );
  const image = await answer(wa.messages.image({ id: MEDIA_ID, caption: "A photo" }, to));
  const read = await answer(wa.messages.status({ status: "read", message_id: INBOUND_WAMID }));
  wa.requester.client.clearSockets();
  console.log(JSON.stringify({ text, reply, template, image, read }));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
