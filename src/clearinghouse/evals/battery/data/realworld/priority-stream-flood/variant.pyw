import priority

tree = priority.PriorityTree()
inserted = 0
try:
    # A peer opens (or just prioritises) streams without end.
    for stream_id in range(1, 4001):
        tree.insert_stream(stream_id)
        inserted += 1
except Exception as exc:
    print("refused after", inserted, "streams:", type(exc).__name__)
else:
    print("inserted", inserted, "streams")
    if inserted >= 2000:
        print("VULNERABLE: the priority tree accepted", inserted, "streams from one peer")
