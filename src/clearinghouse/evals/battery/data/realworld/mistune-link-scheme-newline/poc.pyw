import mistune

document = "[click me](java\nscript:alert(document.cookie))\n"
html = mistune.markdown(document, escape=True)
print(html)
if 'href="java\nscript:' in html:
    print("VULNERABLE: a javascript: link survived (a newline split the scheme)")
