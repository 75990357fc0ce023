"""Functional checks of marshmallow 2's field selection and validation."""

from marshmallow import Schema, fields

checks = 0


def check(condition, what):
    global checks
    assert condition, what
    checks += 1


class UserSchema(Schema):
    name = fields.Str(required=True)
    email = fields.Email()
    age = fields.Int()


user = {"name": "alice", "email": "alice@example.com", "age": 30}
check(UserSchema().dump(user).data == user, "all fields by default")
check(UserSchema(only=("name",)).dump(user).data == {"name": "alice"}, "only one field")
check(UserSchema(only=["name", "age"]).dump(user).data == {"name": "alice", "age": 30}, "only, as a list")
check(UserSchema(exclude=("email",)).dump(user).data == {"name": "alice", "age": 30}, "exclude")
loaded = UserSchema().load({"name": "bob", "age": "41"})
check(loaded.data == {"name": "bob", "age": 41} and not loaded.errors, "load")
check("email" in UserSchema().load({"name": "x", "email": "not-an-email"}).errors, "validation errors")
check(UserSchema(many=True).dump([user, user]).data == [user, user], "many")
print(f"FUNCTIONAL OK ({checks} checks)")
