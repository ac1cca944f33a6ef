// Parses HCL files with HashiCorp's HCL parser (the Go hcl2json, built to WebAssembly in
// @cdktf/hcl2json) and prints {"<file>": <json>, ...}. Exits 1 naming every file that
// does not parse. Usage: node hcl2json.js FILE...
const fs = require("fs");
const { parse } = require("@cdktf/hcl2json");

(async () => {
  const out = {};
  const failures = [];
  for (const file of process.argv.slice(2)) {
    try {
      out[file] = await parse(file, fs.readFileSync(file, "utf8"));
    } catch (err) {
      failures.push(`${file}: ${String((err && err.message) || err).trim()}`);
    }
  }
  if (failures.length > 0) {
    console.error(`HCL parse errors (${failures.length}):\n  ` + failures.join("\n  "));
    process.exit(1);
  }
  process.stdout.write(JSON.stringify(out));
})().catch((err) => {
  console.error(`hcl2json: ${err}`);
  process.exit(1);
});
