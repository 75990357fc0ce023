import markdown2

# An element name that is not all word characters slips past safe_mode's tag escaping.
document = "Hello <x-foo onmouseover=alert(document.cookie)//\n"
html = markdown2.markdown(document, safe_mode="escape")
print(html)
if "<x-foo onmouseover=" in html:
    print("VULNERABLE: safe_mode let an <x-foo onmouseover=...> tag through")
