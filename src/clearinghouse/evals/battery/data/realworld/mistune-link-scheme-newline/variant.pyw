import mistune

# An autolink: escape() only, no scheme filter at all.
document = "Contact: <javascript:alert(document.domain)>\n"
html = mistune.markdown(document, escape=True)
print(html)
if 'href="javascript:alert(document.domain)"' in html:
    print("VULNERABLE: an autolink kept its javascript: scheme")
