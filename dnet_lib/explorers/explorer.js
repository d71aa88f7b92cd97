// Shared by every explorer: number formats, SVG elements, and mounting a page's explorers.
(function () {
  var w = (typeof window !== 'undefined') ? window : globalThis;
  var E = w.dnetExplorers = w.dnetExplorers || {};
  E.fmt = function (n) { return n.toLocaleString('en-US'); };
  E.formatBytes = function (n) {       // as dnet_lib.units.format_bytes
    var units = ['B', 'KiB', 'MiB', 'GiB'];
    for (var i = 0; i < units.length; i++) {
      if (Math.abs(n) < 1024 || units[i] === 'GiB')
        return units[i] === 'B' ? n.toFixed(0) + ' B' : n.toFixed(1) + ' ' + units[i];
      n /= 1024;
    }
  };
  E.svg = function (parent, tag, attrs, text) {
    var e = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (var a in attrs) e.setAttribute(a, attrs[a]);
    if (text !== undefined) e.textContent = text;
    parent.appendChild(e);
    return e;
  };
  // render(get, data) for every explorer of this kind not yet mounted: now and on each change.
  E.mountAll = function (kind, render) {
    if (typeof document === 'undefined' || !document.querySelectorAll) return;
    var roots = document.querySelectorAll('.dnet-explorer[data-explorer="' + kind + '"]');
    Array.prototype.forEach.call(roots, function (root) {
      if (root.dataset.ready) return;
      root.dataset.ready = '1';
      var get = function (role) { return root.querySelector('[data-role="' + role + '"]'); };
      var data = JSON.parse(get('data').textContent);
      var update = function () { render(get, data); };
      root.querySelectorAll('input, select').forEach(function (el) {
        el.addEventListener('input', update);
        el.addEventListener('change', update);
      });
      update();
    });
  };
})();
