// `node --require jobwatch/register app.js`: turns on jobwatch for the whole
// process with no code change.
import { start } from './start.js';

start();
