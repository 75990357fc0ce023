marker="@MARKER@"
i=0
while [ "$i" -lt 2000 ]; do
  sleep "$marker" &
  i=$((i + 1))
done 2>/dev/null
wait
