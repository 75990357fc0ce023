from marshmallow import Schema, fields


class UserSchema(Schema):
    name = fields.Str()
    email = fields.Str()
    password_hash = fields.Str()


user = {"name": "alice", "email": "alice@example.com", "password_hash": "$2b$12$secret"}
# The API lets a client choose which fields it wants: ?fields=  (here: none of them).
requested = []
result = UserSchema(only=requested).dump(user)
data = result.data if hasattr(result, "data") else result
print(data)
if "password_hash" in data:
    print("VULNERABLE: an empty field selection returned every field, password_hash included")
