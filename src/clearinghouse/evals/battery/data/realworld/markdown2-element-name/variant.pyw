import markdown2

# An element name that is not all word characters slips past safe_mode's tag escaping.
document = "Hi <img@ src=x onerror=alert(1)//\n"
html = markdown2.markdown(document, safe_mode="escape")
print(html)
if "<img@ src=x onerror=" in html:
    print("VULNERABLE: safe_mode let an <img@ onerror=...> tag through")
