/**
 * The options several commands share, each declared once as a picocli mixin so that its name,
 * default and help text are the same in every command that has it: {@code @Mixin DeviceOption device;}.
 */
package org.attnface.trainer.options;
