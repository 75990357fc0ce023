import markdown2

# An unterminated tag: safe_mode escapes complete tags, but not this one.
document = "Hello <img src=x onerror=alert(document.cookie)//\n"
html = markdown2.markdown(document, safe_mode="escape")
print(html)
if "<img src=x onerror=" in html:
    print("VULNERABLE: safe_mode let an <img onerror=...> tag through")
