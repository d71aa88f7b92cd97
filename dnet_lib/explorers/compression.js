// The compression explorer: a whole DenseNet's channels and parameters for the chosen θ.
(function () {
  var E = ((typeof window !== 'undefined') ? window : globalThis).dnetExplorers;
  var COLOURS = {B: 'bottleneck', C: 'transition', BC: 'dense'};   // style.COLORS keys
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
    var rows = arch[get('bottleneck').checked ? 'bottleneck' : 'plain'], last = rows.length - 1;
    get('theta-value').textContent = data.thetas[i].toFixed(2);
    return {stats: rows[i], reference_params: rows[last].params, source: arch.source,
            reference: arch.plain[last].channels,
            panels: data.panels.map(function (p) {     // explorers.VARIANT_PANELS
              var row = arch[p[1] ? 'bottleneck' : 'plain'][p[2] ? i : last];
              return Object.assign({panel: p[0]}, row);
            })};
  }
  // One SVG per panel (so they wrap on a phone): the channels carried from the stem through
  // every dense layer and transition; dashed: the reference network (no bottleneck, θ = 1).
  function drawPanels(div, panels, reference) {
    div.innerHTML = '';
    var top = Math.max.apply(null, reference), left = 36, base = 150, width = 180;
    function y(channels) { return base - 110 * channels / top; }
    function points(profile) {
      return profile.map(function (c, i) {
        return (left + width * i / (profile.length - 1)).toFixed(1) + ',' + y(c).toFixed(1);
      }).join(' ');
    }
    panels.forEach(function (p) {
      var svg = E.svg(div, 'svg', {viewBox: '0 0 224 158', role: 'img', 'data-role': 'panel',
                      'data-panel': p.panel, 'data-variant': p.variant, 'data-params': p.params,
                      'data-channels': p.channels.join(','),
                      'aria-label': p.variant + ': channels carried through the network'});
      var end = p.channels[p.channels.length - 1];
      E.svg(svg, 'text', {x: left, y: 14, 'font-size': 13, 'font-weight': 'bold'},
            p.variant + ' (\u03b8 = ' + p.compression.toFixed(2) + ')');
      E.svg(svg, 'text', {x: left, y: 30, 'font-size': 12}, E.fmt(p.params) + ' parameters');
      E.svg(svg, 'text', {x: left - 3, y: 49, 'font-size': 11, 'text-anchor': 'end'}, top);
      E.svg(svg, 'text', {x: left - 3, y: base, 'font-size': 11, 'text-anchor': 'end'}, '0');
      E.svg(svg, 'line', {x1: left, y1: base, x2: left + width, y2: base,
                          stroke: 'currentColor', 'stroke-width': 0.8});
      E.svg(svg, 'polyline', {points: points(reference), fill: 'none', 'stroke-width': 1.2,
                              stroke: 'var(--dnet-input)', 'stroke-dasharray': '3,2'});
      E.svg(svg, 'polyline', {points: points(p.channels), fill: 'none', 'stroke-width': 2.2,
                              stroke: 'var(--dnet-' + COLOURS[p.panel] + ')'});
      E.svg(svg, 'text', {x: left + width, y: (y(end) - 5).toFixed(1),
                          'font-size': 12, 'text-anchor': 'end'}, end);
    });
  }
  function render(get, data) {
    var v = view(get, data), s = v.stats, fmt = E.fmt;
    get('variant').textContent = s.variant;
    get('params').textContent = fmt(s.params);
    get('ratio').textContent = (100 * s.params / v.reference_params).toFixed(1) + '%';
    get('stages').textContent = s.stage_channels.join(' \u2192 ');
    drawPanels(get('drawing'), v.panels, v.reference);
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
