// The demo page's "run in my browser" markup: the switch, the download progress bar and the panes that the
// in-browser model fills (src/demo/browser/main.ts, served as /browser/app.js, builds and runs them).
export function browserSwitchHtml(): string {
  return `<style>
  #browser-bar { display: flex; gap: 1rem; align-items: center; margin: .75rem 0 0; color: #4a5263; }
  #browser-bar progress { width: 14rem; }
  #browser-answers { display: grid; gap: .75rem; margin: 1rem 0; }
</style>
<div id="browser-bar">
  <label><input type="checkbox" id="in-browser"> run in my browser (no server: onnxruntime-web)</label>
  <progress id="browser-progress" hidden></progress>
  <span id="browser-status" role="status"></span>
</div>
<div id="browser-answers" hidden></div>
<script type="module" src="/browser/app.js"></script>`;
}
