// Checks recordings with @puppeteer/replay's own parse(): node parse.cjs FILE...
// Prints one JSON line per file: {"file", "ok", "error"?, "steps"?}.
// node parse.cjs --step-types prints the schema's step types, as one JSON array.
const fs = require('fs');
const { parse, StepType } = require('@puppeteer/replay');
if (process.argv[2] === '--step-types') {
  console.log(JSON.stringify(Object.values(StepType)));
  process.exit(0);
}
for (const file of process.argv.slice(2)) {
  try {
    const flow = parse(JSON.parse(fs.readFileSync(file, 'utf8')));
    console.log(JSON.stringify({ file, ok: true, steps: flow.steps.map((s) => s.type) }));
  } catch (error) {
    console.log(JSON.stringify({ file, ok: false, error: String(error.message || error) }));
  }
}
