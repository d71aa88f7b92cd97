"""What both explorers share: a page is ``NAME.html`` filled (``string.Template``) with
``explorer.css``, ``explorer.js``, ``NAME.js`` (its renderer), ``NAME_controls.html`` (its
sliders; not in the live widget) and a JSON block of the numbers ``dnet_lib.arith`` computes."""
from __future__ import annotations

import copy
import importlib.util
import json
import os
from importlib import resources
from string import Template

from .. import style

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def asset(name: str) -> str:
    """The text of one of this package's files (``explorer.css``, ``growth_rate.js``...)."""
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _want_widget() -> bool:
    """A live ipywidgets view only in a running kernel, and not while the book is built."""
    if os.environ.get("DNET_BOOK_BUILD") or importlib.util.find_spec("ipywidgets") is None:
        return False
    from IPython import get_ipython      # ipywidgets requires IPython
    return getattr(get_ipython(), "kernel", None) is not None


class Explorer:
    """A subclass names its files (``name``) and gives ``data(live)`` (the page's numbers; live: the
    current settings' only), ``settings()`` (its templates' values) and ``controls(w, common)``
    (its ipywidgets keyed by the attributes they set; the ``bottleneck`` switch is added here)."""
    name = ""

    def page(self, live: bool = False) -> str:
        """The explorer as HTML: with its own sliders, or (``live``) showing ``view()`` only."""
        uid = f"dnet-{self.name}-{os.urandom(6).hex()}"     # distinct displays, even across kernels
        # each template's $placeholders must all be given
        settings = dict(self.settings(), checked=" checked" if self.bottleneck else "")
        return Template(asset(f"{self.name}.html")).substitute(    # live: the widget's controls
            uid=uid, css=asset("explorer.css"), controls="" if live else Template(
                asset(f"{self.name}_controls.html")).substitute(uid=uid, **settings),
            script=asset("explorer.js") + asset(f"{self.name}.js"),
            colours="".join(f"--dnet-{k}: {v}; " for k, v in style.COLORS.items()),
            data=json.dumps(self.data(live), separators=(",", ":")).replace("</", "<\\/"),
            **settings)

    def widget(self):
        """The live view: ipywidgets controls above this page, recomputed in Python."""
        import ipywidgets as w
        common = dict(style={"description_width": "12em"}, layout=w.Layout(width="32em"))
        controls = {**self.controls(w, common), "bottleneck": w.Checkbox(
            self.bottleneck, description="bottleneck (DenseNet-B)")}
        out = w.Output()

        def update(_=None):     # the same page script draws the recomputed numbers
            shown = copy.copy(self)     # the controls offer valid values only
            vars(shown).update({name: c.value for name, c in controls.items()})
            out.outputs = ({"output_type": "display_data", "metadata": {}, "data": {
                "text/plain": repr(shown), "text/html": shown.page(live=True)}},)

        for control in controls.values():
            control.observe(update, names="value")
        update()
        return w.VBox([*controls.values(), out])

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = {"text/plain": repr(self), "text/html": self.page()}
        if _want_widget():      # the model_id (protocol 2.0): ipywidgets 7 and 8 render it
            bundle[WIDGET_VIEW] = {"version_major": 2, "version_minor": 0,
                                   "model_id": self.widget().model_id}
        return bundle
