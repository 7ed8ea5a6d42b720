/** The one IPv4 pattern, shared by the SMTP core (address literals) and src/net (PROXY headers, --trusted-proxies). Pure. */
const IPV4 = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/**
 * A dotted-quad IPv4 address, each part 0 to 255 written without leading zeros (which some parsers read as octal);
 * RFC 5321 §4.1.3 IPv4-address-literal.
 */
export const isIpv4 = (text: string): boolean => IPV4.test(text);
