import type { BrowserContext, Page } from 'playwright-core';

export declare const CHROMIUM: string;
export declare const CHROMIUM_ARGS: readonly string[];
export declare const INSTALL_HINT: string;
export declare function hasChromium(): boolean;
export interface LaunchedChromium {
  context: BrowserContext;
  newPage(options?: { viewport?: { width: number; height: number } }): Promise<Page>;
  close(): Promise<void>;
}
export declare function launchChromium(options?: { args?: string[] }): Promise<LaunchedChromium>;
