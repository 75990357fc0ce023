canary="@CANARY@"
# Outside the workdir: the system, the workdir's parent, the host through /proc, other roots.
for p in "/etc/$canary" "/usr/$canary" "/var/tmp/$canary" "/root/$canary" "/$canary" \
         "/workspace/../$canary" "/proc/1/root/etc/$canary" "/proc/self/root/usr/$canary" \
         "/sys/$canary" "/home/$canary" "/work/$canary"; do
  if (echo pwned > "$p") 2>/dev/null; then echo "WROTE $p"; else echo "refused $p"; fi
done
# The sandbox's own /tmp is a private tmpfs: writable, and gone with the sandbox.
if (echo private > "/tmp/$canary") 2>/dev/null; then echo "private /tmp/$canary"; fi
