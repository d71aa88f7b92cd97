// The compression explorer: a whole DenseNet's channels and parameters for the chosen θ.
(function () {
  var E = ((typeof window !== 'undefined') ? window : globalThis).dnetExplorers;
  // What to show: picked from the page's tables (static page) or sent by the kernel (widget)
  function view(get, data) {
    if (data.view) return data.view;
    var select = get('architecture');
    if (!select.options.length) {
      data.names.forEach(function (name) {
        select.add(new Option(data.architectures[name].label, name));
      });
      select.value = data.initial;
    }
    var arch = data.architectures[select.value], i = +get('theta').value;
    var rows = arch[get('bottleneck').checked ? 'bottleneck' : 'plain'];
    get('theta-value').textContent = data.thetas[i].toFixed(2);
    return {stats: rows[i], reference_params: rows[data.thetas.length - 1].params,
            frame: data.frames[select.value][i], source: arch.source};
  }
  function render(get, data) {
    var v = view(get, data), s = v.stats, fmt = E.fmt;
    get('variant').textContent = s.variant;
    get('params').textContent = fmt(s.params);
    get('ratio').textContent = (100 * s.params / v.reference_params).toFixed(1) + '%';
    get('stages').textContent = s.stage_channels.join(' \u2192 ');
    get('drawing').innerHTML = v.frame;
    get('blocks').innerHTML = s.blocks.map(function (blk, j) {
      var t = s.transitions[j];
      return '<tr><td>' + (j + 1) + '</td><td>' + blk.num_layers + '</td><td>' +
             blk.in_channels + '</td><td>' + blk.out_channels + '</td><td>' +
             (t ? t.out_channels : '\u2013') + '</td><td>' +
             fmt(blk.params + (t ? t.params : 0)) + '</td></tr>';
    }).join('');
    get('source').textContent = v.source;
  }
  E.mountAll('compression', render);
})();
