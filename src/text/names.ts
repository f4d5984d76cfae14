/** "Baraka Otieno" -> "Baraka O." (enough for people to recognise, not a full identity). */
export function maskName(displayName: string): string {
  const [first = '', ...rest] = displayName.trim().split(/\s+/);
  const last = rest[rest.length - 1];
  return last ? `${first} ${last[0]!.toUpperCase()}.` : first;
}
