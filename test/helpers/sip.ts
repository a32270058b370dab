// The tests' SIP user agent is the benchmark's (benchmarks/lib/sip-phone.ts): one implementation.
export { freeUdpPort, offer, SipPhone, TerminalSound, type Dialled } from '../../benchmarks/lib/sip-phone.ts';
