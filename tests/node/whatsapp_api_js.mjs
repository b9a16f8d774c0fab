// whatsapp-api-js pointed at Kirem through its `ponyfill.fetch` constructor argument, as
// docs/compatibility.md shows, and a bot of it taking one of Kirem's `meta`-format deliveries with the
// webhook secret as its app secret. Driven by tests/e2e/test_node_clients.py, which reads the JSON printed.
import { WhatsAppAPI } from "whatsapp-api-js";
import { BodyComponent, BodyParameter, Image, Language, Template, Text } from "whatsapp-api-js/messages";

const env = process.env;
const kirem = (url, init) => fetch(String(url).replace("https://graph.facebook.com", env.KIREM_URL), init);
const wa = new WhatsAppAPI({
  token: env.API_KEY,
  appSecret: env.WEBHOOK_SECRET,
  v: "v23.0",
  ponyfill: { fetch: kirem },
});
const phone = env.PHONE_NUMBER_ID;

const text = await wa.sendMessage(phone, env.CUSTOMER, new Text("Hello from whatsapp-api-js"));
const template = await wa.sendMessage(
  phone,
  env.CUSTOMER,
  new Template(env.TEMPLATE_NAME, new Language("en_US"), new BodyComponent(new BodyParameter("A-17"))),
);
const read = await wa.markAsRead(phone, env.INBOUND_WAMID);

const png = Buffer.from(env.PNG_BASE64, "base64");
const form = new FormData();
form.append("file", new Blob([png], { type: "image/png" }), "photo.png");
const uploaded = await wa.uploadMedia(phone, form);
const media = await wa.retrieveMedia(uploaded.id, phone);
const downloaded = Buffer.from(await (await wa.fetchMedia(media.url)).arrayBuffer());
const image = await wa.sendMessage(phone, env.CUSTOMER, new Image(uploaded.id, true, "A photo"));
const deleted = await wa.deleteMedia(uploaded.id, phone);

wa.on.message = ({ from, message, reply }) => reply(new Text(`You wrote: ${message.text.body} (${from})`), true);
const raw = Buffer.from(env.DELIVERY_BASE64, "base64").toString("utf8");
const botReply = await wa.post(JSON.parse(raw), raw, env.DELIVERY_SIGNATURE);
const forged = await wa.post(JSON.parse(raw), raw, `sha256=${"0".repeat(64)}`).then(
  () => "accepted",
  (error) => error.constructor.name,
);

console.log(JSON.stringify({
  text, template, read, uploaded, media, image, deleted, botReply, forged,
  downloaded: downloaded.equals(png),
}));
