// The growth-rate explorer: one dense block's numbers and drawings, redrawn on every change.
(function () {
  var E = ((typeof window !== 'undefined') ? window : globalThis).dnetExplorers;
  function line(ab, c) { return ab[0] * c + ab[1]; }
  // arith.dense_block_stats, from the lines in E.growthTables (explorers.growth_tables())
  E.blockStats = function (c0, L, k, size, bottleneck) {
    var T = E.growthTables;
    var p = T.params[bottleneck ? 'bottleneck' : 'plain'][k - T.kMin], v = T.inputValues[size];
    var layers = [], params = 0, inputs = 0;
    for (var i = 0; i < L; i++) {
      var c = c0 + i * k, lp = line(p, c), iv = line(v, c);
      layers.push({layer: i + 1, in_channels: c, out_channels: k, params: lp, input_values: iv});
      params += lp; inputs += iv;
    }
    var out = c0 + L * k, ov = line(v, out);
    return {in_channels: c0, num_layers: L, growth_rate: k, image_size: size,
            bottleneck: bottleneck, layers: layers, out_channels: out, params: params,
            output_values: ov, output_bytes: ov * T.bytesPerValue, layer_input_values: inputs};
  };
  function niceMax(x) { var p = 1; while (p < x) p *= 2; return p; }
  function drawStack(svg, s) {
    // one row per layer: the slices it reads (c0 grey, then k per earlier layer); then the output
    svg.innerHTML = '';
    var rows = s.layers.length + 1, rowH = rows > 12 ? 13 : 20, left = 58, width = 300;
    var scale = width / niceMax(s.out_channels), h = rows * rowH + 28;
    svg.setAttribute('viewBox', '0 0 400 ' + h);
    for (var r = 0; r < rows; r++) {
      var y = 4 + r * rowH, x = left;
      var reads = r < s.layers.length ? s.layers[r].in_channels : s.out_channels;
      var slices = [s.in_channels];
      for (var j = 0; j < r; j++) slices.push(s.growth_rate);
      for (j = 0; j < slices.length; j++) {
        E.svg(svg, 'rect', {x: x, y: y, width: Math.max(slices[j] * scale, 0.5),
              height: rowH - 3, fill: j === 0 ? 'var(--dnet-input)' : 'var(--dnet-dense)',
              'fill-opacity': j % 2 ? 0.65 : 1, 'data-role': 'slice', 'data-row': r});
        x += slices[j] * scale;
      }
      E.svg(svg, 'text', {x: left - 5, y: y + rowH - 5, 'text-anchor': 'end', 'font-size': 11},
            r < s.layers.length ? 'layer ' + (r + 1) : 'output');
      E.svg(svg, 'text', {x: x + 4, y: y + rowH - 5, 'font-size': 11, 'data-role': 'row-width'},
            String(reads));
    }
    E.svg(svg, 'text', {x: left, y: h - 6, 'font-size': 11},
          'channels each layer reads (axis 0 to ' + niceMax(s.out_channels) + ')');
  }
  function drawBars(svg, values, colour, title) {
    svg.innerHTML = '';
    var n = values.length, w = 270, h = 120, top = Math.max.apply(null, values) || 1, bw = w / n;
    for (var i = 0; i < n; i++) {
      var bh = h * values[i] / top;
      E.svg(svg, 'rect', {x: 25 + i * bw + bw * 0.1, y: 20 + h - bh, width: bw * 0.8,
            height: bh, fill: colour, 'data-role': 'bar'});
    }
    E.svg(svg, 'line', {x1: 25, y1: 20 + h, x2: 25 + w, y2: 20 + h, stroke: 'currentColor'});
    E.svg(svg, 'text', {x: 25, y: 13, 'font-size': 12}, title);
    E.svg(svg, 'text', {x: 25, y: 155, 'font-size': 11}, 'layer 1 \u2192 ' + n);
  }
  // The settings from the sliders (static page), or the block the kernel computed (live widget)
  function stats(get, data) {
    if (!get('growth-rate')) return data.view;
    var values = {};
    ['in-channels', 'num-layers', 'growth-rate'].forEach(function (role) {
      values[role] = +get(role).value;
      get(role + '-value').textContent = values[role];
    });
    var size = data.tables.sizes[+get('image-size').value];
    get('image-size-value').textContent = size + '\u00d7' + size;
    return E.blockStats(values['in-channels'], values['num-layers'], values['growth-rate'],
                        size, get('bottleneck').checked);
  }
  function render(get, data) {
    E.growthTables = data.tables;
    var s = stats(get, data), fmt = E.fmt;
    get('out-channels').textContent = s.out_channels;
    get('formula').textContent = s.in_channels + ' + ' + s.num_layers + ' \u00d7 ' +
        s.growth_rate + ' = ' + s.out_channels;
    get('params').textContent = fmt(s.params);
    get('output-values').textContent = fmt(s.output_values);
    get('output-bytes').textContent = E.formatBytes(s.output_bytes);
    get('layers').innerHTML = s.layers.map(function (r) {
      return '<tr><td>' + r.layer + '</td><td>' + r.in_channels + '</td><td>' + r.out_channels +
             '</td><td>' + fmt(r.params) + '</td><td>' + fmt(r.input_values) + '</td></tr>';
    }).join('');
    drawStack(get('stack'), s);
    var p = s.layers.map(function (r) { return r.params; });
    var m = s.layers.map(function (r) { return r.input_values * data.tables.bytesPerValue; });
    drawBars(get('params-bars'), p, 'var(--dnet-dense)',
             'parameters per layer (max ' + fmt(Math.max.apply(null, p)) + ')');
    drawBars(get('memory-bars'), m, 'var(--dnet-bottleneck)',
             'input per layer, one image (max ' + E.formatBytes(Math.max.apply(null, m)) + ')');
  }
  E.mountAll('growth', render);
})();
