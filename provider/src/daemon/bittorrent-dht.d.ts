/** bittorrent-dht ships no types; dht.ts describes the parts it uses (DhtClient). */
declare module "bittorrent-dht";
