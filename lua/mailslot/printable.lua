--- Text that other hosts wrote, made safe to print on a terminal or a log:
-- every control character becomes "?", so a name or comment cannot move the
-- cursor, retitle the window, clear the screen, or start a forged log line.
-- That is C0 controls and DEL, and the C1 controls (U+0080..U+009F, which
-- xterm and VTE obey as escapes when written as UTF-8); in text that is not
-- UTF-8 every byte from 0x80 is replaced (a raw 0x9B is CSI on a terminal
-- that takes 8-bit controls).
-- @module mailslot.printable

--- `s` (any value, as tostring gives it) with its control characters as "?".
return function(s)
  s = tostring(s)
  if utf8.len(s) then
    s = s:gsub("\194[\128-\159]", "?")
  else
    s = s:gsub("[\128-\255]", "?")
  end
  return (s:gsub("%c", "?"))
end
