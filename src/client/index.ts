/** jpipd client library: JPP-stream parsing, the data-bin cache and codestream reassembly. */
export { JppParser, parseJppStream, type JppEvent, type JppMessage, type JppEor } from './jpp-parser.js';
export { DataBinCache, type BinKey, type BinMessage, type CacheStats, type ReceivedRange } from './databin-cache.js';
export { reassembleCodestream } from './reassemble.js';
export { JppError, type JppErrorCode } from '../bytes/jpp.js';
