/* Search results without raw TeX. Sphinx's search (searchtools.js) writes each result's summary from the page's
   text, where a formula is still its TeX source ("\(\mathbf o = f_\theta(\mathbf x)\)"): MathJax typesets it only
   on the page itself. Before the summary is cut from a page, each formula becomes plain text ("o = f_θ(x)").
   Loaded on every page by book/_ext/course_links.py; it does something only on the search page. */
(() => {
  const SYMBOLS = {
    alpha: "α", beta: "β", gamma: "γ", delta: "δ", epsilon: "ε", varepsilon: "ε", zeta: "ζ", eta: "η",
    theta: "θ", vartheta: "θ", iota: "ι", kappa: "κ", lambda: "λ", mu: "μ", nu: "ν", xi: "ξ", pi: "π", rho: "ρ",
    sigma: "σ", tau: "τ", upsilon: "υ", phi: "φ", varphi: "φ", chi: "χ", psi: "ψ", omega: "ω",
    Gamma: "Γ", Delta: "Δ", Theta: "Θ", Lambda: "Λ", Xi: "Ξ", Pi: "Π", Sigma: "Σ", Phi: "Φ", Psi: "Ψ", Omega: "Ω",
    cdot: "·", times: "×", circ: "∘", in: "∈", notin: "∉", le: "≤", leq: "≤", ge: "≥", geq: "≥", ne: "≠", neq: "≠",
    approx: "≈", sim: "∼", propto: "∝", infty: "∞", sum: "Σ", prod: "∏", int: "∫", partial: "∂", nabla: "∇",
    to: "→", rightarrow: "→", leftarrow: "←", Rightarrow: "⇒", mapsto: "↦", mid: "|", vert: "|", lVert: "‖",
    rVert: "‖", Vert: "‖", langle: "⟨", rangle: "⟩", lfloor: "⌊", rfloor: "⌋", lceil: "⌈", rceil: "⌉",
    ldots: "…", dots: "…", cdots: "⋯", pm: "±", mp: "∓", sqrt: "√", subset: "⊂", cup: "∪", cap: "∩",
    forall: "∀", exists: "∃", odot: "⊙", top: "⊤", ell: "ℓ", log: "log", exp: "exp", max: "max", min: "min",
    arg: "arg", sin: "sin", cos: "cos", tanh: "tanh", det: "det", quad: " ", qquad: "  ",
  };
  const BLACKBOARD = {R: "ℝ", N: "ℕ", Z: "ℤ", Q: "ℚ", C: "ℂ", E: "𝔼", P: "ℙ"};

  // The group in braces that starts at text[i] === "{": [its content, the index after it].
  function group(text, i) {
    let depth = 0;
    for (let j = i; j < text.length; j++) {
      if (text[j] === "{") depth++;
      else if (text[j] === "}" && --depth === 0) return [text.slice(i + 1, j), j + 1];
    }
    return [text.slice(i + 1), text.length];
  }

  // \frac{a}{b} as a/b, with parentheses around a numerator or denominator of more than one symbol.
  function fractions(text) {
    let at;
    while ((at = text.search(/\\[dt]?frac\s*\{/)) >= 0) {
      const open = text.indexOf("{", at);
      const [num, after] = group(text, open);
      const next = text.indexOf("{", after);
      if (next < 0) break;
      const [den, end] = group(text, next);
      const wrap = (x) => (plain(x).length > 1 ? `(${x})` : x);
      text = text.slice(0, at) + wrap(num) + "/" + wrap(den) + text.slice(end);
    }
    return text;
  }

  const WORDS = new Set(["log", "exp", "max", "min", "arg", "sin", "cos", "tanh", "det"]);

  function plain(tex) {
    let t = tex.trim().replace(/^\\[(\[]|\\[)\]]$/g, "").replace(/^\$\$?|\$\$?$/g, "");
    t = t.replace(/\\mathbb\s*\{?\s*([A-Z])\s*\}?/g, (m, c) => BLACKBOARD[c] || c);
    t = fractions(t);
    t = t.replace(/\\(?:left|right|big|Big|bigg|Bigg)\b\s*\\?/g, "");
    t = t.replace(/\\(?:mathbf|mathrm|mathit|mathcal|boldsymbol|operatorname|text|textrm|textbf|bm|hat|bar|tilde|vec)\s*/g, "");
    t = t.replace(/\\([A-Za-z]+)/g, (m, name) => (WORDS.has(name) ? ` ${name} ` : SYMBOLS[name] ?? name));
    t = t.replace(/\\[,;:! ]/g, " ").replace(/\\\{/g, "{").replace(/\\\}/g, "}").replace(/\\\\/g, " ");
    t = t.replace(/[{}]/g, "").replace(/~/g, " ");
    return t.replace(/\s+/g, " ").trim();
  }

  function readableMath(html) {
    const doc = new DOMParser().parseFromString(html, "text/html");
    const math = doc.querySelectorAll(".math, script[type^='math/tex']");
    if (!math.length) return html;
    math.forEach((el) => { el.replaceWith(doc.createTextNode(" " + plain(el.textContent) + " ")); });
    return doc.documentElement.outerHTML;
  }

  window.courseSearchMath = {plain, readableMath};  // (for the browser test)
  document.addEventListener("DOMContentLoaded", () => {
    if (typeof Search === "undefined" || !Search.htmlToText || Search.htmlToText.courseReadable) return;
    const original = Search.htmlToText;
    Search.htmlToText = (htmlString, anchor) => original(readableMath(htmlString), anchor);
    Search.htmlToText.courseReadable = true;
  });
})();
