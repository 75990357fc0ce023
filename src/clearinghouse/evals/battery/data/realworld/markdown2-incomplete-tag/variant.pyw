import markdown2

# An unterminated tag: safe_mode escapes complete tags, but not this one.
document = "*look* <svg onload=alert(1) x=\n"
html = markdown2.markdown(document, safe_mode="escape")
print(html)
if "<svg onload=alert(1)" in html:
    print("VULNERABLE: safe_mode let an <svg onload=...> tag through")
