// Confluent's JavaScript JSON Schema serdes (@confluentinc/schemaregistry)
// as an oracle, run as  node -e 'require("./jsonserde.js").main(process.argv.slice(1))' -- ARGS
// with ARGS: MODE REGISTRY_URL TOPIC [SCHEMA_FILE].
//   serialize:   registers SCHEMA_FILE (schemaType JSON) under TOPIC-value,
//                reads JSON lines, writes the framed bytes as base64 lines
//                (validating each message against the schema);
//   deserialize: reads base64 lines of framed bytes, writes one JSON line
//                per message (validating against the writer's schema), or
//                "ERROR <message>" for one it refuses.
// strict: false is an ajv option the serdes pass through: without it ajv
// refuses schemas using "format" (it ships no format checkers).
const fs = require("fs");
const {
  SchemaRegistryClient, SerdeType, JsonSerializer, JsonDeserializer,
} = require("@confluentinc/schemaregistry");

async function run([mode, url, topic, schemaFile]) {
  const client = new SchemaRegistryClient({ baseURLs: [url] });
  const lines = fs.readFileSync(0, "utf8").split("\n").filter((l) => l.trim() !== "");
  const out = [];
  if (mode === "serialize") {
    const schema = fs.readFileSync(schemaFile, "utf8");
    await client.register(topic + "-value", { schemaType: "JSON", schema }, false);
    const ser = new JsonSerializer(client, SerdeType.VALUE,
      { useLatestVersion: true, autoRegisterSchemas: false, validate: true, strict: false });
    for (const l of lines) {
      const b = await ser.serialize(topic, JSON.parse(l));
      out.push(b.toString("base64"));
    }
  } else if (mode === "deserialize") {
    const des = new JsonDeserializer(client, SerdeType.VALUE, { validate: true, strict: false });
    for (const l of lines) {
      try {
        const v = await des.deserialize(topic, Buffer.from(l.trim(), "base64"));
        out.push(JSON.stringify(v));
      } catch (e) {
        out.push("ERROR " + String(e.message).split("\n")[0]);
      }
    }
  } else {
    throw new Error("unknown mode " + mode);
  }
  process.stdout.write(out.join("\n") + "\n");
}

exports.main = (args) => run(args).catch((e) => { console.error(e); process.exit(1); });
