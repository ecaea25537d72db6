// Process entry point (started by bin/tsnix).
import { commandLineArgs } from './argv.js';
import { main } from './main.js';

void main(commandLineArgs());
