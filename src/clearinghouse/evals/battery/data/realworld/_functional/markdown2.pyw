"""Functional checks of markdown2, with and without safe_mode."""

import markdown2

checks = 0


def check(condition, what):
    global checks
    assert condition, what
    checks += 1


check(markdown2.markdown("*em* and **strong**").strip() == "<p><em>em</em> and <strong>strong</strong></p>", "emphasis")
check('<a href="http://example.com/">link</a>' in markdown2.markdown("[link](http://example.com/)"), "links")
check("<h1>Title</h1>" in markdown2.markdown("# Title"), "headers")
check("<li>one</li>" in markdown2.markdown("- one\n- two\n"), "lists")
check("<code>x = 1\n</code>" in markdown2.markdown("    x = 1\n"), "code blocks")
escaped = markdown2.markdown("<script>alert(1)</script> text", safe_mode="escape")
check("<script>" not in escaped and "&lt;script&gt;" in escaped, "safe_mode escapes a complete tag")
check("[HTML_REMOVED]" in markdown2.markdown("<b>x</b>", safe_mode="replace"), "safe_mode replace")
check("a &lt; b" in markdown2.markdown("a < b", safe_mode="escape"), "a lone < is text")
check('<a href="http://x.y/">x</a>' in markdown2.markdown("[x](http://x.y/)", safe_mode="escape"), "links in safe_mode")
print(f"FUNCTIONAL OK ({checks} checks)")
