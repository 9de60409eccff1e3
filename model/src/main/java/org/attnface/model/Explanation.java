package org.attnface.model;

/**
 * What a network looked at for one image. Every map is [rows][cols], normalised to [0, 1],
 * at the resolution of the layer it comes from (the caller resizes it onto the image).
 *
 * @param theta         the spatial transformer's 2x3 affine transform, row-major
 *                      (output pixel (x, y) in [-1, 1] samples the input at theta * (x, y, 1));
 *                      null for networks without attention
 * @param activation1   channel-mean of |activation| of an early layer
 * @param activation2   channel-mean of |activation| of a later layer
 * @param gradCamGender Grad-CAM (Selvaraju et al. 2017) of the predicted gender class
 * @param gradCamAge    Grad-CAM of the predicted age bucket
 */
public record Explanation(float[] theta, float[][] activation1, float[][] activation2,
                          float[][] gradCamGender, float[][] gradCamAge) {}
