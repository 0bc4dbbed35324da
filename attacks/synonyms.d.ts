// Types for the lexicon of the `synonyms` npm package (word -> part of speech -> synonyms).
declare module "synonyms/dictionary.js" {
  const dictionary: Record<string, Record<string, string[]>>;
  export default dictionary;
}
