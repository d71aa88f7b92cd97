// Written for this book (not from npm). The widget manager loads its icon fonts from a folder it
// derives from a require.js module path, which by default is relative to each page. Point that
// path at this folder (_static/widgets/), where the fonts are vendored.
(function () {
  var script = document.currentScript;
  if (!script || !window.require || !window.require.config) return;
  var here = script.src.slice(0, script.src.lastIndexOf("/"));
  window.require.config({paths: {"@jupyter-widgets/html-manager/dist": here}});
})();
