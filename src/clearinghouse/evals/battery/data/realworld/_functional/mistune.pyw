"""Functional checks of mistune with escape=True."""

import mistune

checks = 0


def check(condition, what):
    global checks
    assert condition, what
    checks += 1


def md(text):
    return mistune.markdown(text, escape=True)


check(md("*em* **strong**").strip() == "<p><em>em</em> <strong>strong</strong></p>", "emphasis")
check('<a href="https://example.com/a?b=1&amp;c=2">x</a>' in md("[x](https://example.com/a?b=1&c=2)"), "links, escaped")
check("<h2>Sub</h2>" in md("## Sub"), "headers")
check("&lt;b&gt;" in md("<b>raw</b>"), "raw HTML is escaped")
check('href="mailto:a@example.com"' in md("<a@example.com>"), "email autolinks")
check('<a href="http://example.com">http://example.com</a>' in md("<http://example.com>"), "autolinks")
notes = md("Text[^note].\n\n[^note]: The note.\n")
check('id="fnref-note"' in notes and 'id="fn-note"' in notes, "footnotes")
check("<pre><code>code\n</code></pre>" in md("    code\n"), "code blocks")
print(f"FUNCTIONAL OK ({checks} checks)")
