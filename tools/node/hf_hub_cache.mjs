// Cache interoperability oracle for sie's tests: @huggingface/hub (an
// independent implementation of the Hugging Face cache) downloads into, or
// reads from, a hub cache folder.
//
//   node hf_hub_cache.mjs snapshot HUB_URL REPO CACHE_DIR REVISION
//       snapshotDownload; prints the snapshot folder.
//   node hf_hub_cache.mjs files HUB_URL REPO CACHE_DIR COMMIT PATH...
//       downloadFileToCacheDir for each path (returns at once when the file
//       is cached); prints one JSON object {path, pointer, content_sha256} a line.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { snapshotDownload, downloadFileToCacheDir } from "@huggingface/hub";

const [mode, hubUrl, repo, cacheDir, revision, ...paths] = process.argv.slice(2);
if (mode === "snapshot") {
  console.log(await snapshotDownload({ repo, hubUrl, cacheDir, revision }));
} else if (mode === "files") {
  for (const path of paths) {
    const pointer = await downloadFileToCacheDir({ repo, hubUrl, cacheDir, revision, path });
    const sha = createHash("sha256").update(await readFile(pointer)).digest("hex");
    console.log(JSON.stringify({ path, pointer, content_sha256: sha }));
  }
} else {
  console.error("usage: hf_hub_cache.mjs snapshot|files ...");
  process.exit(2);
}
